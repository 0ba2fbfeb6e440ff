//! Ingest: exports → typed, checked, de-duplicated rows per source, streamed into curated
//! Parquet partitions, with every row not accepted accounted for in quarantine.
//!
//! Each file is read as blocks of whole records (`read`); a few blocks at a time are parsed,
//! typed and checked in parallel, then merged in file order: the block's accepted rows go
//! straight to their partition's Parquet file and leave a trace for the duplicate check
//! (`dedup`), which at the end keeps the first copy of a repeated row (so reruns agree) and
//! takes the others out of their partition files. Memory holds the blocks in flight, the row
//! groups being encoded and a fixed-size buffer of traces, never the source.
//!
//! Conservation, checked for every source: rows read = accepted + rejected + dropped
//! + duplicates + outside the selected period; and for every file, its physical lines (line
//! endings counted in the raw bytes as they are read; XLSX: rows of each sheet) = title lines +
//! header lines + blank lines + the lines of its records. A record that cannot be read as the
//! header's fields (unclosed quote, wrong number of fields, file ending inside it) is rejected
//! with its line, never lost (`records`).
//!
//! Layer `ingest` (ARCHITECTURE.md): owns everything that opens an export, `preflight` included,
//! and the curated partitions it writes; may import `base`, `spec` and `store`.

mod ahead;
pub mod dedup;
pub mod derive;
pub mod error;
mod hold;
pub mod parse;
pub mod preflight;
pub mod read;
pub mod records;
pub mod values;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, StringArray};
use polars::prelude::{Column, DataFrame, IntoColumn, IntoLazy};
use rayon::prelude::*;

use crate::base::calendar::{civil_from_days, days_from_civil};
use crate::base::period::{Grain, Period};
use crate::base::vocab::{Vocabulary, Word};
use crate::spec::plan::{ColumnPlan, ColumnType, Plan, Severity, SourcePlan};
use crate::store::layout;
use crate::store::parquet::{ParquetStream, RunStamp};
use dedup::{DuplicateFinder, Trace};
pub use error::IngestError;
use read::Cell;
use values::Values;

/// Why a row is in quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RejectKind {
    /// A value did not parse or a reject check failed.
    Rejected,
    /// A drop rule matched (total lines).
    Dropped,
    /// An exact copy of an earlier row of the same source.
    Duplicate,
    /// One of several rows sharing the source's declared key but differing.
    Conflicting,
}

impl Vocabulary for RejectKind {
    const WORDS: &'static [Word<RejectKind>] = &[
        Word { value: RejectKind::Rejected, name: "rejected", zh: "拒绝", en: "rejected" },
        Word { value: RejectKind::Dropped, name: "dropped", zh: "删除（合计等）", en: "dropped (totals)" },
        Word { value: RejectKind::Duplicate, name: "duplicate", zh: "完全重复", en: "exact duplicate" },
        Word { value: RejectKind::Conflicting, name: "conflicting", zh: "主键相同但内容不同", en: "conflicting (same key, different values)" },
    ];
}
crate::serialize_by_name!(RejectKind);

/// One quarantined row.
#[derive(Debug, Clone)]
pub(crate) struct Reject {
    pub source: String,
    pub file: String,
    pub sheet: Option<String>,
    pub row: u64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub kind: RejectKind,
    pub reason: String,
}

/// What happened to one input file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileReport {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows_read: u64,
    pub blank_lines: u64,
    /// Physical lines of the file, counted from its raw bytes (XLSX: rows of its sheets up to
    /// the last used row); None when the file was not read to its end (`check`'s sample).
    pub physical_lines: Option<u64>,
    /// Title lines above the header.
    pub title_lines: u64,
    /// Lines of the header record.
    pub header_lines: u64,
    /// Lines of the records read (a quoted value with line breaks spans several).
    pub record_lines: u64,
    /// Lines that continue a record begun on an earlier line: `record_lines - rows_read`.
    pub continuation_lines: u64,
}

impl FileReport {
    /// Physical lines = title + header + blank + record lines (true when not read to the end).
    pub(crate) fn lines_conserved(&self) -> bool {
        self.physical_lines.is_none_or(|p| p == self.title_lines + self.header_lines + self.blank_lines + self.record_lines)
    }
}

/// Row accounting of one source.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SourceCounts {
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub dropped: u64,
    pub duplicates: u64,
    /// Rows sharing the declared key but differing (all of them quarantined).
    pub conflicting: u64,
    pub other_period: u64,
    pub blank_lines: u64,
    /// Physical lines of the source's files, counted from the raw bytes (None when a file was
    /// not read to its end).
    pub physical_lines: Option<u64>,
    pub title_lines: u64,
    pub header_lines: u64,
    pub record_lines: u64,
}

impl SourceCounts {
    /// Rows read = accepted + rejected + dropped + duplicates + conflicting + outside the
    /// selected period, and physical lines = title + header + blank + record lines.
    pub fn conserved(&self) -> bool {
        self.rows_read == self.accepted + self.rejected + self.dropped + self.duplicates + self.conflicting + self.other_period
            && self.physical_lines.is_none_or(|p| p == self.title_lines + self.header_lines + self.blank_lines + self.record_lines)
    }

    /// Share of read rows rejected (parse failures and failed reject checks).
    pub(crate) fn reject_share(&self) -> f64 {
        if self.rows_read == 0 { 0.0 } else { self.rejected as f64 / self.rows_read as f64 }
    }
}

/// A source after ingest: its accounting, quarantine, and the partitions it wrote.
#[derive(Debug)]
pub(crate) struct IngestedSource {
    pub name: String,
    pub title: String,
    pub files: Vec<FileReport>,
    pub counts: SourceCounts,
    /// Warn-severity checks and how many rows failed each.
    pub warnings: Vec<(String, u64)>,
    pub rejects: Vec<Reject>,
    /// Partitions written (None: the single file of a reference table).
    pub periods: Vec<Option<Period>>,
    /// The duplicate policy applied: "exact", "keep" or "key(…)".
    pub duplicate_policy: String,
}

/// Where accepted rows go.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Destination<'a> {
    /// `<dir>/<source>/period=<label>/part-0.parquet`, or `<dir>/<source>/data.parquet` for a
    /// reference table, stamped with the run id.
    Curated { dir: &'a Path, run_id: &'a str },
    /// Nowhere: `duibiao check` parses a sample and writes nothing.
    Nowhere,
}

/// Blocks read but not yet merged, at most: enough that every parsing thread has a block at
/// hand while the merger writes, few enough that memory holds a few blocks, never the source.
fn blocks_in_flight() -> usize {
    2 * rayon::current_num_threads().max(1) + 2
}

/// What the reader hands the merger, numbered in read order: a parsed block, or the end of a
/// file with what only the reader knows of it.
enum Step {
    Block(Result<ParsedBlock, IngestError>),
    FileEnd(FileEnd),
}

/// A file read to its end (or sampled): its line accounting outside the blocks, and its digest.
struct FileEnd {
    path: String,
    sha256: String,
    bytes: u64,
    physical_lines: Option<u64>,
    title_lines: u64,
    header_lines: u64,
    /// Blank rows outside a sheet's used range (counted per table, not per block).
    blank_lines: u64,
}

/// The blocks' share of a file's accounting, summed by the merger until the file ends.
#[derive(Default)]
struct FileTally {
    rows_read: u64,
    blank_lines: u64,
    record_lines: u64,
}

impl FileTally {
    fn add(&mut self, counts: &SourceCounts) {
        self.rows_read += counts.rows_read;
        self.blank_lines += counts.blank_lines;
        self.record_lines += counts.record_lines;
    }

    /// The file's report; the tally starts again for the next file.
    fn close(&mut self, end: FileEnd) -> FileReport {
        let tally = std::mem::take(self);
        FileReport {
            path: end.path,
            sha256: end.sha256,
            bytes: end.bytes,
            rows_read: tally.rows_read,
            blank_lines: tally.blank_lines + end.blank_lines,
            physical_lines: end.physical_lines,
            title_lines: end.title_lines,
            header_lines: end.header_lines,
            record_lines: tally.record_lines,
            continuation_lines: tally.record_lines - tally.rows_read,
        }
    }
}

/// A block's rows while they are parsed and checked.
struct BlockRows {
    columns: Vec<Values>,
    lines: Vec<u64>,
    hashes: Vec<u128>,
    /// Fingerprints of the declared key (empty without one).
    keys: Vec<u128>,
    period: Vec<Option<Period>>,
    rejects: Vec<Reject>,
    counts: SourceCounts,
    warnings: Vec<u64>,
}

/// The accepted rows of a block that fall in one partition, already as Arrow arrays (the
/// source's columns, then `source_file` and `source_row`), with their fingerprints.
struct Part {
    period: Option<Period>,
    arrays: Vec<ArrayRef>,
    hashes: Vec<u128>,
    keys: Vec<u128>,
    lines: Vec<u64>,
}

/// A block parsed, checked and split by partition, ready for the duplicate merge.
struct ParsedBlock {
    /// The table (file, or sheet of a workbook) in read order.
    table_index: u32,
    file: Arc<str>,
    sheet: Option<String>,
    parts: Vec<Part>,
    rejects: Vec<Reject>,
    counts: SourceCounts,
    warnings: Vec<u64>,
}

/// What a table of a file needs to parse its blocks.
struct TableContext<'a> {
    plan: &'a Plan,
    source: &'a SourcePlan,
    checks: &'a [CompiledCheck],
    file: Arc<str>,
    table_index: u32,
    sheet: Option<String>,
    headers: Vec<String>,
    located: Vec<Option<(usize, f64)>>,
    drops: Vec<(usize, Vec<String>, String)>,
    period_index: Option<usize>,
    only: Option<Period>,
    /// Per column: how a derived value is made in this table (None: read from its header).
    derived: Vec<Option<derive::DerivedAt>>,
    /// Indexes of the declared key's columns (empty without a key).
    key_columns: Vec<usize>,
    /// Mixed into row fingerprints when the table fixes values from its file name, title or
    /// sheet, so identical lines of different files are different rows.
    salt: Option<u128>,
}

/// A row check with its expression compiled once per source.
struct CompiledCheck {
    expr: polars::prelude::Expr,
    rule: String,
    severity: Severity,
    message: String,
    /// Indexes of the source columns the rule reads.
    uses: Vec<usize>,
}

fn compile_checks(source: &SourcePlan) -> Result<Vec<CompiledCheck>, IngestError> {
    source
        .checks
        .iter()
        .map(|c| {
            let expr = crate::spec::expr::to_polars(&c.rule, crate::spec::dialect::Role::Check)
                .map_err(|error| IngestError::CheckRule { rule: c.rule.clone(), error })?;
            let roots = crate::spec::dialect::columns(&c.rule);
            let uses = source.columns.iter().enumerate().filter(|(_, col)| roots.contains(&col.name)).map(|(i, _)| i).collect();
            Ok(CompiledCheck { expr, rule: c.rule.clone(), severity: c.severity, message: c.message.clone(), uses })
        })
        .collect()
}

/// Open Parquet files of a source, one per partition.
struct PartitionWriters<'a> {
    destination: Destination<'a>,
    source: &'a SourcePlan,
    schema: arrow::datatypes::SchemaRef,
    open: BTreeMap<Option<Period>, ParquetStream>,
}

impl PartitionWriters<'_> {
    fn path(&self, dir: &Path, period: Option<Period>) -> PathBuf {
        match period {
            Some(q) => layout::partition_file(dir, &self.source.name, q),
            None => layout::reference_file(dir, &self.source.name),
        }
    }

    fn writer(&mut self, period: Option<Period>) -> Result<Option<&mut ParquetStream>, IngestError> {
        let Destination::Curated { dir, run_id } = self.destination else { return Ok(None) };
        if !self.open.contains_key(&period) {
            let stamp = RunStamp { run_id: run_id.to_string(), table: layout::curated_table(&self.source.name) };
            let stream = ParquetStream::create(&self.path(dir, period), self.schema.clone(), &stamp)?;
            self.open.insert(period, stream);
        }
        Ok(self.open.get_mut(&period))
    }

    /// Closes every file; a reference table without rows still gets its (empty) file.
    fn finish(mut self) -> Result<Vec<Option<Period>>, IngestError> {
        if self.source.period.is_none() && self.open.is_empty() {
            self.writer(None)?;
        }
        let periods = self.open.keys().copied().collect();
        for (_, stream) in std::mem::take(&mut self.open) {
            stream.close()?;
        }
        Ok(periods)
    }
}

/// Ingests every file of a source and writes its accepted rows to `destination`, partition by
/// partition, as they are parsed: memory holds a few blocks and a bounded buffer of duplicate
/// traces, never the source. `only` restricts to one period (increments); `sample_blocks`
/// parses only that many blocks of every table of every file, the first, the last and others
/// spread evenly between them (`duibiao check`; the other blocks are cut but not parsed).
pub(crate) fn ingest_source(
    plan: &Plan,
    source: &SourcePlan,
    files: &[PathBuf],
    only: Option<Period>,
    destination: Destination,
    sample_blocks: Option<usize>,
) -> Result<IngestedSource, IngestError> {
    let checks = compile_checks(source)?;
    let mut fields: Vec<arrow::datatypes::Field> =
        source.columns.iter().map(|c| arrow::datatypes::Field::new(&c.name, Values::for_type(c.kind).to_arrow().data_type().clone(), true)).collect();
    fields.push(arrow::datatypes::Field::new("source_file", arrow::datatypes::DataType::Utf8, true));
    fields.push(arrow::datatypes::Field::new("source_row", arrow::datatypes::DataType::Int64, true));
    let writers = PartitionWriters { destination, source, schema: Arc::new(arrow::datatypes::Schema::new(fields)), open: BTreeMap::new() };
    let runs_dir = match destination {
        Destination::Curated { dir, .. } => layout::duplicates_scratch(dir, &source.name),
        Destination::Nowhere => std::env::temp_dir().join(format!("duibiao-duplicates-{}-{}", std::process::id(), source.name)),
    };
    let out = IngestedSource {
        name: source.name.clone(),
        title: source.title.clone(),
        files: Vec::new(),
        counts: SourceCounts::default(),
        warnings: source.checks.iter().filter(|c| c.severity == Severity::Warn).map(|c| (c.message.clone(), 0)).collect(),
        rejects: Vec::new(),
        periods: Vec::new(),
        duplicate_policy: source.duplicates.label(),
    };
    // Under the exact policy, rows that may repeat an earlier one wait for the duplicate check
    // instead of being written and removed by a rewrite (`hold`).
    let holding = matches!(source.duplicates, crate::spec::plan::DuplicatePolicy::Exact) && matches!(destination, Destination::Curated { .. });
    let input_bytes = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let held = hold::HeldBack::new(holding, input_bytes, crate::store::testhook::max_held_rows(hold::MAX_HELD_ROWS));
    // While rows are held, the duplicate check is given its candidates at the end and needs no
    // sorted runs.
    let finder = DuplicateFinder::new(runs_dir, dedup::BUFFERED_TRACES, !holding);
    // This thread reads and cuts blocks and hands each to the thread pool to parse as soon as
    // it is cut; one merger thread takes the parsed blocks in read order into the partition
    // files, leaving a trace of each row for the duplicate check. Each merged block lets the
    // reader cut another, so reading, parsing and writing overlap with a few blocks in flight.
    let (sender, receiver) = std::sync::mpsc::channel::<(u64, Step)>();
    let (merged_one, merged_blocks) = std::sync::mpsc::channel::<()>();
    let merged = std::thread::scope(|scope| {
        let merger = scope.spawn(move || -> Result<(PartitionWriters, IngestedSource, Merged), IngestError> {
            let (mut writers, mut out) = (writers, out);
            let mut merged = Merged { finder, policy: source.duplicates.clone(), tables: Vec::new(), positions: BTreeMap::new(), partitions: Vec::new(), held };
            let (mut waiting, mut next, mut file) = (BTreeMap::new(), 0u64, FileTally::default());
            for (number, step) in receiver {
                waiting.insert(number, step);
                while let Some(step) = waiting.remove(&next) {
                    next += 1;
                    match step {
                        Step::Block(block) => {
                            let block = block?;
                            file.add(&block.counts);
                            merge_block(block, &mut merged, &mut writers, &mut out)?;
                            // The reader may be gone after an error of its own.
                            let _ = merged_one.send(());
                        }
                        Step::FileEnd(end) => out.files.push(file.close(end)),
                    }
                }
            }
            Ok((writers, out, merged))
        });
        // Where it pays, a thread takes the files' sha256 side by side ahead of the reader.
        let ahead = (source.format == crate::spec::plan::Format::Csv)
            .then(|| ahead::kernel_for(files))
            .flatten()
            .map(|kernel| ahead::Ahead::start(scope, files, kernel));
        let read = read_and_parse(plan, source, &checks, files, only, sample_blocks, sender, merged_blocks, ahead);
        let merged = merger.join().map_err(|_| IngestError::MergePanicked { source_name: source.name.clone() })?;
        // A merge error (a parse error included) stops the reading; report it before any error
        // it caused there.
        let (writers, mut out, merged) = merged?;
        read?;
        add_file_lines(&mut out.counts, &out.files)?;
        Ok::<_, IngestError>((writers, out, merged))
    });
    let (mut writers, mut out, mut merged) = merged?;
    let (mut held, arrived, partitions) =
        (std::mem::replace(&mut merged.held, hold::HeldBack::new(false, 0, 0)), merged.positions.clone(), merged.partitions.clone());
    let removed = quarantine_duplicates(source, merged, held.candidates(), &mut out)?;
    // Held rows that are no duplicates go to the end of their partition; duplicates that were
    // written are removed by rewriting their partition.
    let mut rewritten = BTreeMap::new();
    for (index, period) in partitions.iter().enumerate() {
        let mut drops = removed.get(period).cloned().unwrap_or_default();
        drops.sort_unstable();
        let settled = held.settle(index as u32, arrived[period], &drops).map_err(|error| IngestError::HeldBack { source_name: source.name.clone(), error })?;
        if let Some(rows) = settled.append {
            if let Some(writer) = writers.writer(*period)? {
                writer.write(rows)?;
            }
        }
        if !settled.rewrite.is_empty() {
            rewritten.insert(*period, settled.rewrite);
        }
    }
    let stamp = match destination {
        Destination::Curated { dir, run_id } => Some((dir, RunStamp { run_id: run_id.to_string(), table: layout::curated_table(&source.name) })),
        Destination::Nowhere => None,
    };
    let paths: BTreeMap<Option<Period>, PathBuf> = match &stamp {
        Some((dir, _)) => writers.open.keys().map(|p| (*p, writers.path(dir, *p))).collect(),
        None => BTreeMap::new(),
    };
    out.periods = writers.finish()?;
    let mut rewrites = Vec::new();
    for (period, mut positions) in rewritten {
        positions.sort_unstable();
        if let (Some(path), Some((_, stamp))) = (paths.get(&period), &stamp) {
            rewrites.push((path.clone(), positions, stamp.clone()));
        }
    }
    rewrites.par_iter().map(|(path, positions, stamp)| drop_rows(path, positions, stamp)).collect::<Result<Vec<()>, IngestError>>()?;
    if !out.counts.conserved() {
        return Err(IngestError::RowAccounting { source_name: source.name.clone(), counts: out.counts.clone() });
    }
    Ok(out)
}

/// Duplicates: every copy after the first leaves the accepted rows for quarantine; with a key,
/// so do all rows of a key whose rows differ. Returns the positions to drop per partition.
fn quarantine_duplicates(
    source: &SourcePlan,
    merged: Merged,
    candidates: Option<&dedup::Candidates>,
    out: &mut IngestedSource,
) -> Result<BTreeMap<Option<Period>, Vec<u64>>, IngestError> {
    let policy = source.duplicates.label();
    let found = merged.finder.finish_all(candidates)?;
    let mut removed: BTreeMap<Option<Period>, Vec<u64>> = BTreeMap::new();
    let key_text = match &source.duplicates {
        crate::spec::plan::DuplicatePolicy::Key(columns) => columns.join(", "),
        _ => String::new(),
    };
    // The quarantine entry of a traced row, which leaves its partition.
    let mut quarantine = |row: &dedup::Trace, column: Option<String>, kind: RejectKind, reason: String| {
        let (file, sheet) = &merged.tables[row.file as usize];
        out.rejects.push(Reject {
            source: source.name.clone(),
            file: file.to_string(),
            sheet: sheet.clone(),
            row: u64::from(row.line),
            column,
            value: None,
            kind,
            reason,
        });
        removed.entry(merged.partitions[row.partition as usize]).or_default().push(row.position);
    };
    let (mut duplicates, mut conflicts) = (0, 0);
    for found in found.values() {
        for d in &found.duplicates {
            let (first_file, line) = (&merged.tables[d.first.file as usize].0, d.first.line);
            let reason =
                format!("与 {first_file} 第 {line} 行完全重复（duplicates = {policy}）· exact duplicate of {first_file} line {line} (duplicates = {policy})");
            quarantine(&d.copy, None, RejectKind::Duplicate, reason);
        }
        for c in &found.conflicts {
            let (first_file, line, rows) = (&merged.tables[c.first.file as usize].0, c.first.line, c.rows);
            let reason = format!(
                "{key_text} 与 {first_file} 第 {line} 行相同但内容不同，共 {rows} 行，全部隔离（duplicates = {policy}）· same {key_text} as {first_file} line {line} but different values; all {rows} rows quarantined (duplicates = {policy})"
            );
            quarantine(&c.row, Some(key_text.clone()), RejectKind::Conflicting, reason);
        }
        duplicates += found.duplicates.len() as u64;
        conflicts += found.conflicts.len() as u64;
    }
    out.counts.duplicates += duplicates;
    out.counts.conflicting += conflicts;
    out.counts.accepted -= duplicates + conflicts;
    Ok(removed)
}

/// Adds the files' line accounting to the source's, after checking each file's.
fn add_file_lines(counts: &mut SourceCounts, files: &[FileReport]) -> Result<(), IngestError> {
    let mut physical = Some(0);
    for f in files {
        if !f.lines_conserved() {
            return Err(IngestError::LineAccounting {
                file: f.path.clone(),
                physical: f.physical_lines.unwrap_or_default(),
                title: f.title_lines,
                header: f.header_lines,
                blank: f.blank_lines,
                records: f.record_lines,
            });
        }
        physical = physical.zip(f.physical_lines).map(|(a, b)| a + b);
    }
    counts.physical_lines = physical;
    counts.title_lines = files.iter().map(|f| f.title_lines).sum();
    counts.header_lines = files.iter().map(|f| f.header_lines).sum();
    // Blank rows outside a sheet's used range are counted per table, not per block.
    counts.blank_lines = files.iter().map(|f| f.blank_lines).sum();
    counts.record_lines = files.iter().map(|f| f.record_lines).sum();
    Ok(())
}

/// Reads the files block by block and spawns the parsing of each block on the thread pool as
/// soon as it is cut; the parsed blocks, and each file's end, go to the merger numbered in read
/// order. At most `blocks_in_flight()` blocks are read and not yet merged.
#[allow(clippy::too_many_arguments)]
fn read_and_parse(
    plan: &Plan,
    source: &SourcePlan,
    checks: &[CompiledCheck],
    files: &[PathBuf],
    only: Option<Period>,
    sample_blocks: Option<usize>,
    sender: std::sync::mpsc::Sender<(u64, Step)>,
    merged_blocks: std::sync::mpsc::Receiver<()>,
    mut ahead: Option<ahead::Ahead>,
) -> Result<(), IngestError> {
    let stopped = || IngestError::MergeStopped { source_name: source.name.clone() };
    // Parsed blocks come back to their table's reader, which reuses their buffers.
    let (parsed_one, to_recycle) = std::sync::mpsc::channel::<read::Block>();
    // File names in quarantine and the manifest are shown relative to the working folder.
    let base = Path::new(".");
    let (mut number, mut in_flight, mut tables_read) = (0u64, 0usize, 0u32);
    rayon::in_place_scope(|scope| {
        for (index, path) in files.iter().enumerate() {
            let shown: Arc<str> = path.strip_prefix(base).unwrap_or(path).to_string_lossy().replace('\\', "/").into();
            let mut reader = if ahead.is_some() { read::open_hashed_ahead(source, path)? } else { read::open(source, path)? };
            let (mut physical_lines, mut title_lines, mut header_lines, mut blank_lines) = (Some(0), 0, 0, 0);
            let tables = std::mem::take(&mut reader.tables);
            for mut table in tables {
                let context = Arc::new(table_context(plan, source, checks, shown.clone(), tables_read, &table, only)?);
                tables_read += 1;
                let mut sample = sample_blocks.map(|n| SamplePicks::new(n, table.blocks_at_most()));
                // Physical lines are known only for a table read whole (not for check's sample).
                let mut exhausted = false;
                loop {
                    while in_flight >= blocks_in_flight() {
                        merged_blocks.recv().map_err(|_| stopped())?;
                        in_flight -= 1;
                    }
                    while let Ok(block) = to_recycle.try_recv() {
                        table.recycle(block);
                    }
                    let next = table.next_block()?;
                    let (block, end) = match &mut sample {
                        None => {
                            exhausted = next.is_none();
                            (next, exhausted)
                        }
                        Some(picks) => match picks.offer(next) {
                            SampleStep::Parse(block) => (Some(block), false),
                            SampleStep::Skip => (None, false),
                            SampleStep::End(last) => (last, true),
                        },
                    };
                    if let Some(block) = block {
                        let (context, sender, parsed_one, at) = (context.clone(), sender.clone(), parsed_one.clone(), number);
                        scope.spawn(move |_| {
                            let parsed = parse_block(&context, &block);
                            // Either end may be gone after an error; the merger reports it.
                            let _ = parsed_one.send(block);
                            let _ = sender.send((at, Step::Block(parsed)));
                        });
                        number += 1;
                        in_flight += 1;
                    }
                    if end {
                        break;
                    }
                }
                let lines = table.lines();
                physical_lines = physical_lines.zip(lines.physical.filter(|_| exhausted)).map(|(a, b)| a + b);
                title_lines += lines.title;
                header_lines += lines.header;
                blank_lines += lines.blank;
                reader.tables.push(table);
            }
            let (sha256, bytes) = match reader.fingerprint() {
                Some((read::FileHash::Sha256(sha256), bytes)) => (sha256, bytes),
                Some((read::FileHash::Xxh3(check), bytes)) => match &mut ahead {
                    Some(ahead) => (ahead.sha256(index, path, check, bytes)?, bytes),
                    None => return Err(not_hashed(path)),
                },
                // Readers opened here hash what they read; this is for completeness only.
                None => return Err(not_hashed(path)),
            };
            let end = FileEnd { path: shown.to_string(), sha256, bytes, physical_lines, title_lines, header_lines, blank_lines };
            sender.send((number, Step::FileEnd(end))).map_err(|_| stopped())?;
            number += 1;
        }
        Ok(())
    })
}

/// The error of a file whose sha256 was not taken (which the readers opened above always take).
fn not_hashed(path: &Path) -> IngestError {
    IngestError::Read { path: path.to_path_buf(), source: std::io::Error::other("the file's sha256 was not taken") }
}

/// Which blocks of a table a sample parses: `want` of them, the first, the last and the others
/// spread evenly over the blocks the table can hold. The last block is known only when the
/// next one is missing, so the latest skipped block is held until then.
struct SamplePicks {
    picks: Vec<usize>,
    next_index: usize,
    held: Option<read::Block>,
    ended: bool,
}

/// What to do with a block offered to the sample.
enum SampleStep {
    Parse(read::Block),
    Skip,
    /// The table ended; the last block, when it was not parsed yet.
    End(Option<read::Block>),
}

impl SamplePicks {
    fn new(want: usize, blocks_at_most: usize) -> SamplePicks {
        let (want, n) = (want.max(1), blocks_at_most.max(1));
        let picks = if n <= want {
            (0..n).collect()
        } else if want == 1 {
            vec![0]
        } else {
            // Evenly spaced over 0..n-1, ends included; n > want, so they are distinct.
            (0..want).map(|j| (j * (n - 1) + (want - 1) / 2) / (want - 1)).collect()
        };
        SamplePicks { picks, next_index: 0, held: None, ended: false }
    }

    /// Takes the table's next block (None at its end).
    fn offer(&mut self, block: Option<read::Block>) -> SampleStep {
        let Some(block) = block else {
            if self.ended {
                return SampleStep::End(None);
            }
            self.ended = true;
            return SampleStep::End(self.held.take());
        };
        let index = self.next_index;
        self.next_index += 1;
        if self.picks.contains(&index) {
            self.held = None;
            SampleStep::Parse(block)
        } else {
            self.held = Some(block);
            SampleStep::Skip
        }
    }
}

fn table_context<'a>(
    plan: &'a Plan,
    source: &'a SourcePlan,
    checks: &'a [CompiledCheck],
    file: Arc<str>,
    table_index: u32,
    table: &read::TableReader,
    only: Option<Period>,
) -> Result<TableContext<'a>, IngestError> {
    let located = locate_columns(source, &table.headers, table.sheet.as_deref(), &file)?;
    let text = derive::TableText { file: Path::new(&*file), sheet: table.sheet.as_deref(), title: table.title.as_deref() };
    let derived = source.columns.iter().map(|c| derive::locate(c, &text, &table.headers)).collect::<Result<Vec<_>, IngestError>>()?;
    let salt = table_salt(&derived);
    let drops = source
        .drop_rows
        .iter()
        .filter_map(|d| table.headers.iter().position(|h| h == &d.header).map(|i| (i, d.starts_with.clone(), d.header.clone())))
        .collect();
    Ok(TableContext {
        plan,
        source,
        checks,
        file,
        table_index,
        sheet: table.sheet.clone(),
        headers: table.headers.clone(),
        located,
        drops,
        period_index: source.period.as_ref().and_then(|p| source.columns.iter().position(|c| &c.name == p)),
        only,
        derived,
        salt,
        key_columns: match &source.duplicates {
            crate::spec::plan::DuplicatePolicy::Key(columns) => columns.iter().filter_map(|k| source.columns.iter().position(|c| &c.name == k)).collect(),
            _ => Vec::new(),
        },
    })
}

/// A fingerprint of the values a table fixes from its file's name, title or sheet, if any.
fn table_salt(derived: &[Option<derive::DerivedAt>]) -> Option<u128> {
    let fixed: Vec<derive::Parts> = derived.iter().flatten().filter_map(derive::DerivedAt::fixed_parts).collect();
    if fixed.is_empty() {
        return None;
    }
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in fixed {
        for v in [p.year, p.month, p.quarter, p.day] {
            h.update(&v.map_or(u32::MAX, |x| x).to_le_bytes());
        }
    }
    Some(h.digest128())
}

/// What the merger keeps across blocks.
struct Merged {
    finder: DuplicateFinder,
    policy: crate::spec::plan::DuplicatePolicy,
    /// Partitions by the index traces name them with.
    partitions: Vec<Option<Period>>,
    /// Shown file name and sheet of each table, by table index (for the duplicates' reasons).
    tables: Vec<(Arc<str>, Option<String>)>,
    /// Rows that have arrived so far for each partition (their positions in the partition's
    /// file, but for rows held back).
    positions: BTreeMap<Option<Period>, u64>,
    held: hold::HeldBack,
}

/// Writes a parsed block's rows to their partition files and leaves their traces for the
/// duplicate check.
fn merge_block(block: ParsedBlock, merged: &mut Merged, writers: &mut PartitionWriters, out: &mut IngestedSource) -> Result<(), IngestError> {
    if merged.tables.len() <= block.table_index as usize {
        merged.tables.push((block.file.clone(), block.sheet.clone()));
    }
    for part in block.parts {
        let partition = match merged.partitions.iter().position(|p| *p == part.period) {
            Some(i) => i as u32,
            None => {
                merged.partitions.push(part.period);
                (merged.partitions.len() - 1) as u32
            }
        };
        let position = merged.positions.entry(part.period).or_default();
        for (i, hash) in part.hashes.iter().enumerate() {
            // Lines past 4 294 967 295 would be named by their low 32 bits in the reason only.
            let trace = |fingerprint: u128| Trace {
                fingerprint,
                position: *position + i as u64,
                file: block.table_index,
                line: part.lines[i] as u32,
                row: *hash,
                partition,
            };
            match merged.policy {
                crate::spec::plan::DuplicatePolicy::Exact => merged.finder.add(part.period, trace(*hash))?,
                crate::spec::plan::DuplicatePolicy::Keep => {}
                // A record may have been exported under another date: keys are compared over the
                // whole source.
                crate::spec::plan::DuplicatePolicy::Key(_) => merged.finder.add(None, trace(part.keys[i]))?,
            }
        }
        let first = *position;
        *position += part.hashes.len() as u64;
        let held_back = |error| IngestError::HeldBack { source_name: out.name.clone(), error };
        let runs = merged.held.split(partition, first, &part.hashes, &part.arrays).map_err(held_back)?;
        if !runs.is_empty() {
            if let Some(writer) = writers.writer(part.period)? {
                writer.write_runs(part.arrays, &runs)?;
            }
        }
        let (positions, partitions) = (&merged.positions, &merged.partitions);
        for (p, rows) in merged.held.overflow(|p| positions[&partitions[p as usize]]).map_err(held_back)? {
            if let Some(writer) = writers.writer(partitions[p as usize])? {
                writer.write(rows)?;
            }
        }
    }
    let c = &mut out.counts;
    c.rows_read += block.counts.rows_read;
    c.accepted += block.counts.accepted;
    c.rejected += block.counts.rejected;
    c.dropped += block.counts.dropped;
    c.other_period += block.counts.other_period;
    c.blank_lines += block.counts.blank_lines;
    c.record_lines += block.counts.record_lines;
    for (w, n) in out.warnings.iter_mut().zip(&block.warnings) {
        w.1 += n;
    }
    out.rejects.extend(block.rejects);
    Ok(())
}

/// Rewrites a partition file without the rows at `positions` (sorted), batch by batch.
fn drop_rows(path: &Path, positions: &[u64], stamp: &RunStamp) -> Result<(), IngestError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let shown = |e| IngestError::Rewrite { path: path.to_path_buf(), error: e };
    let file = std::fs::File::open(path).map_err(|e| shown(e.into()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| shown(e.into()))?.with_batch_size(64 * 1024);
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| shown(e.into()))?;
    let rewritten = path.with_extension("parquet.rewrite");
    let mut stream = ParquetStream::create(&rewritten, schema, stamp)?;
    let (mut offset, mut next) = (0u64, 0usize);
    for batch in reader {
        let batch = batch.map_err(|e| shown(e.into()))?;
        let rows = batch.num_rows() as u64;
        let mut keep = vec![true; rows as usize];
        while next < positions.len() && positions[next] < offset + rows {
            keep[(positions[next] - offset) as usize] = false;
            next += 1;
        }
        let kept = arrow::compute::filter_record_batch(&batch, &BooleanArray::from(keep)).map_err(|e| shown(e.into()))?;
        stream.write(kept.columns().to_vec())?;
        offset += rows;
    }
    stream.close()?;
    std::fs::rename(&rewritten, path).map_err(|e| shown(e.into()))
}

/// Where each canonical column comes from in one table: cell index and scale, or absent.
fn locate_columns(source: &SourcePlan, headers: &[String], sheet: Option<&str>, file: &str) -> Result<Vec<Option<(usize, f64)>>, IngestError> {
    source
        .columns
        .iter()
        .map(|c| {
            if c.derived.is_some() {
                return Ok(None);
            }
            let found = c.headers.iter().find_map(|(h, scale)| headers.iter().position(|x| x == h).map(|i| (i, *scale)));
            match found {
                None if c.required => Err(IngestError::MissingColumn {
                    file: file.to_string(),
                    sheet: sheet.map(str::to_string),
                    column: c.name.clone(),
                    header: c.headers[0].0.clone(),
                    headers: headers.to_vec(),
                }),
                found => Ok(found),
            }
        })
        .collect()
}

/// Parses, types and checks the records of one block (any thread).
fn parse_block(context: &TableContext, block: &read::Block) -> Result<ParsedBlock, IngestError> {
    let source = context.source;
    // Columns are sized for the block up front: growing them by doubling copies each one
    // again and again and touches fresh memory each time.
    let rows = block.records_at_most();
    let text_columns = source.columns.iter().filter(|c| c.kind == ColumnType::Text).count().max(1);
    let text_bytes = block.text_bytes() / (text_columns + 1);
    let mut parsed = BlockRows {
        columns: source.columns.iter().map(|c| Values::with_capacity(c.kind, rows, text_bytes)).collect(),
        lines: Vec::with_capacity(rows),
        hashes: Vec::with_capacity(rows),
        keys: Vec::with_capacity(if context.key_columns.is_empty() { 0 } else { rows }),
        period: Vec::with_capacity(rows),
        rejects: Vec::new(),
        counts: SourceCounts::default(),
        warnings: vec![0; context.checks.iter().filter(|c| c.severity == Severity::Warn).count()],
    };
    // The last texts seen in each month, quarter and date column, and what they parsed to.
    let mut memo = RowMemo::new(source);
    let mut hash_bytes = Vec::new();
    let tally = read::for_each_record(block, |line, record| {
        parsed.counts.rows_read += 1;
        let (cells, text) = match record {
            read::Record::Cells(cells, text) => (cells, text),
            read::Record::Malformed { text, fault, at_end } => {
                parsed.rejects.push(malformed_reject(context, line, text, fault, at_end));
                parsed.counts.rejected += 1;
                return Ok(());
            }
        };
        let reject = |column: Option<&str>, value: Option<String>, kind: RejectKind, reason: String| Reject {
            source: source.name.clone(),
            file: context.file.to_string(),
            sheet: context.sheet.clone(),
            row: line,
            column: column.map(str::to_string),
            value,
            kind,
            reason,
        };
        if let Some((header, text, prefix)) = dropped_by_rule(context, cells) {
            parsed.rejects.push(reject(
                Some(header),
                Some(text),
                RejectKind::Dropped,
                format!("删除规则：{header} 以 '{prefix}' 开头 · drop rule: {header} starts with '{prefix}'"),
            ));
            parsed.counts.dropped += 1;
            return Ok(());
        }
        // Values go straight into their columns; a row that turns out rejected is taken back.
        let rows = parsed.lines.len();
        let (period, key) = match parse_row(context, cells, &mut memo, &mut parsed.columns) {
            Ok(parsed_row) => parsed_row,
            Err((column, value, reason)) => {
                parsed.columns.iter_mut().for_each(|c| c.truncate(rows));
                parsed.rejects.push(reject(Some(column), Some(value), RejectKind::Rejected, reason));
                parsed.counts.rejected += 1;
                return Ok(());
            }
        };
        if context.only.is_some() && context.period_index.is_some() && period != context.only {
            parsed.columns.iter_mut().for_each(|c| c.truncate(rows));
            parsed.counts.other_period += 1;
            return Ok(());
        }
        parsed.keys.extend(key);
        parsed.lines.push(line);
        parsed.hashes.push(salted(record_hash(cells, text, &mut hash_bytes), context.salt));
        parsed.period.push(period);
        parsed.counts.accepted += 1;
        Ok(())
    })?;
    parsed.counts.blank_lines = tally.blank_lines;
    parsed.counts.record_lines = tally.record_lines;
    apply_checks(context, &mut parsed)?;
    let parts = partition_parts(context, &mut parsed);
    Ok(ParsedBlock {
        table_index: context.table_index,
        file: context.file.clone(),
        sheet: context.sheet.clone(),
        parts,
        rejects: parsed.rejects,
        counts: parsed.counts,
        warnings: parsed.warnings,
    })
}

/// The drop rule a record meets, if any: (header, the cell's text, the prefix).
fn dropped_by_rule<'c>(context: &'c TableContext, cells: &[Cell]) -> Option<(&'c str, String, &'c str)> {
    for (i, prefixes, header) in &context.drops {
        let text = cells.get(*i).copied().unwrap_or(Cell::Empty);
        let text = match text {
            Cell::Text(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.text()),
        };
        if let Some(p) = prefixes.iter().find(|p| text.trim().starts_with(p.as_str())) {
            return Some((header.as_str(), text.to_string(), p.as_str()));
        }
    }
    None
}

/// Per column: the dated texts seen last (None for a column that is not dated).
type DateMemo = Vec<Option<DatesSeen>>;

/// The texts of one dated column seen last, and what each parsed to (the day and its period).
type DatesSeen = Vec<(String, Result<Option<(i32, Period)>, parse::ParseError>)>;

/// What a block's rows remember between rows: the dated texts seen last per column, and the
/// period of the day seen last (a file's rows share a few days).
struct RowMemo {
    dates: DateMemo,
    period_of: Option<(i32, Period)>,
}

impl RowMemo {
    fn new(source: &SourcePlan) -> RowMemo {
        RowMemo {
            dates: source.columns.iter().map(|c| matches!(c.kind, ColumnType::Month | ColumnType::Quarter | ColumnType::Date).then(Vec::new)).collect(),
            period_of: None,
        }
    }

    /// The period of `day` (local days since 1970-01-01), the last one reused.
    fn period(&mut self, grain: Grain, day: i32) -> Period {
        match self.period_of {
            Some((d, p)) if d == day => p,
            _ => {
                let p = Period::of_day(grain, day);
                self.period_of = Some((day, p));
                p
            }
        }
    }
}

/// Parses a record's cells straight into the block's columns, one value per column (month,
/// quarter and date texts seen last are reused from `memo`); returns the row's period and the
/// fingerprint of its key columns. The first cell that fails gives (column, the cell's text,
/// reason), and the caller takes back what was pushed.
///
/// A text cell (every cell of a CSV export) takes `typed_cell`, which pushes the value into its
/// typed column at once; other cells (a sheet's numbers and dates) and derived columns take
/// `checked_cell` through a `Value`. Both give the same values, errors, periods and key
/// fingerprints (tested cell by cell).
fn parse_row<'c>(
    context: &'c TableContext,
    cells: &[Cell],
    memo: &mut RowMemo,
    columns: &mut [Values],
) -> Result<(Option<Period>, Option<u128>), (&'c str, String, String)> {
    let (source, plan) = (context.source, context.plan);
    let mut period = None;
    let mut key = (!context.key_columns.is_empty()).then(xxhash_rust::xxh3::Xxh3::new);
    for (k, ((column, at), derived)) in source.columns.iter().zip(&context.located).zip(&context.derived).enumerate() {
        let failed = |cell: Cell, reason: parse::ParseError| {
            let header = at.map(|(i, _)| context.headers[i].clone()).unwrap_or_else(|| column.headers[0].0.clone());
            (column.name.as_str(), cell.text(), format!("{header}: {reason}"))
        };
        let keyed = key.is_some() && context.key_columns.contains(&k);
        let cell = match derived {
            None => at.and_then(|(i, _)| cells.get(i).copied()).unwrap_or(Cell::Empty),
            Some(_) => Cell::Empty,
        };
        let scale = at.map(|(_, s)| s).unwrap_or(1.0);
        if derived.is_none() && matches!(cell, Cell::Text(_) | Cell::Empty) {
            let typed = typed_cell(context, column, cell, scale, &mut memo.dates[k], &mut columns[k], key.as_mut().filter(|_| keyed));
            match typed {
                Typed::Done(of_day) => {
                    if context.period_index == Some(k) {
                        period = of_day;
                    }
                    continue;
                }
                Typed::DoneOnDay(day) => {
                    if context.period_index == Some(k) {
                        period = Some(memo.period(plan.grain, day));
                    }
                    continue;
                }
                Typed::Failed(reason) => return Err(failed(cell, reason)),
                Typed::Other => {}
            }
        }
        let value = if let Some(derived) = derived {
            match derive::value(column, derived, cells, plan.utc_offset_minutes) {
                Ok(derive::DerivedValue::Date(d)) => Value::Date(d),
                Ok(derive::DerivedValue::Timestamp(t)) => Value::Timestamp(t),
                Err((header, text, reason)) => return Err((&column.name, text, format!("{header}: {reason}"))),
            }
        } else {
            match checked_cell(context, column, cell, scale) {
                Ok(value) => value,
                Err(reason) => return Err(failed(cell, reason)),
            }
        };
        if context.period_index == Some(k) {
            period = value.period_day(plan.utc_offset_minutes).map(|d| memo.period(plan.grain, d));
        }
        if let Some(h) = key.as_mut().filter(|_| keyed) {
            hash_value(h, &value);
        }
        value.push_into(&mut columns[k]);
    }
    Ok((period, key.map(|h| h.digest128())))
}

/// What `typed_cell` did with a cell.
enum Typed {
    /// The value is in its column (and in the key's fingerprint); for a dated value, its period.
    Done(Option<Period>),
    /// A timestamp is in its column: the local day its period is taken from.
    DoneOnDay(i32),
    /// The cell is not a value of its column: nothing was pushed.
    Failed(parse::ParseError),
    /// A cell this path leaves to `checked_cell` (a sheet's number or date): nothing was pushed.
    Other,
}

/// A text or empty cell parsed by its column's type and pushed into the column at once, with
/// what `checked_cell` gives for it: the same value, the same error, the same date window.
fn typed_cell(
    context: &TableContext,
    column: &ColumnPlan,
    cell: Cell,
    scale: f64,
    seen: &mut Option<DatesSeen>,
    values: &mut Values,
    key: Option<&mut xxhash_rust::xxh3::Xxh3>,
) -> Typed {
    let raw = match cell {
        Cell::Text(raw) => raw,
        Cell::Empty => "",
        Cell::Number(_) | Cell::ExcelDate(_) => return Typed::Other,
    };
    let trimmed = crate::base::text::trim(raw);
    if trimmed.is_empty() {
        if column.not_null {
            return Typed::Failed(parse::ParseError("缺少必填值 · value is missing".to_string()));
        }
        if let Some(h) = key {
            h.update(&[0]);
        }
        values.push_null();
        return Typed::Done(None);
    }
    match (values, column.kind) {
        (Values::Text(v), ColumnType::Text) => {
            if let Some(h) = key {
                hash_value(h, &Value::Text(Some(Cow::Borrowed(trimmed))));
            }
            v.push(Some(trimmed));
            Typed::Done(None)
        }
        (Values::Float(v), ColumnType::Number) => pushed(v, parse::number_trimmed(trimmed, raw, scale), key, Value::Float),
        (Values::Int(v), ColumnType::Integer) => pushed(v, parse::integer(raw), key, Value::Int),
        (Values::Date(v), ColumnType::Month | ColumnType::Quarter | ColumnType::Date) => {
            let seen = seen.get_or_insert_with(Vec::new);
            // A month, quarter or date column repeats a few values: those seen last are reused.
            let day = match seen.iter().position(|(text, _)| text == raw) {
                Some(i) => seen[i].1.clone(),
                None => {
                    let grain = context.plan.grain;
                    let result = checked_cell(context, column, cell, scale)
                        .map(|v| if let Value::Date(d) = v { d.map(|d| (d, Period::of_day(grain, d))) } else { None });
                    if seen.len() == DATE_MEMO {
                        seen.drain(..1);
                    }
                    seen.push((raw.to_string(), result.clone()));
                    result
                }
            };
            match day {
                Ok(day) => {
                    if let Some(h) = key {
                        hash_value(h, &Value::Date(day.map(|(d, _)| d)));
                    }
                    v.push(day.map(|(d, _)| d));
                    Typed::Done(day.map(|(_, p)| p))
                }
                Err(e) => Typed::Failed(e),
            }
        }
        (Values::Timestamp(v), ColumnType::Timestamp) => {
            let plan = context.plan;
            let offset = plan.utc_offset_minutes;
            let t = match parse::timestamp(raw, column.format.as_deref(), offset) {
                Ok(t) => t,
                Err(e) => return Typed::Failed(e),
            };
            let value = Value::Timestamp(Some(t));
            // The date window, as `checked_cell` applies it to a source with a period column.
            if context.source.period.is_some()
                && let Some(day) = value.local_day(offset)
                && let Err(e) = parse::in_window(day, plan.date_window.from, plan.date_window.to)
            {
                return Typed::Failed(e);
            }
            if let Some(h) = key {
                hash_value(h, &value);
            }
            v.push(Some(t));
            match value.period_day(offset) {
                Some(day) => Typed::DoneOnDay(day),
                None => Typed::Done(None),
            }
        }
        _ => unreachable!("a column's values follow its type"),
    }
}

/// A parsed number pushed into its column (and into the key's fingerprint as `value` of it).
fn pushed<T: Copy>(
    column: &mut Vec<Option<T>>,
    parsed: Result<T, parse::ParseError>,
    key: Option<&mut xxhash_rust::xxh3::Xxh3>,
    value: fn(Option<T>) -> Value<'static>,
) -> Typed {
    match parsed {
        Ok(x) => {
            if let Some(h) = key {
                hash_value(h, &value(Some(x)));
            }
            column.push(Some(x));
            Typed::Done(None)
        }
        Err(e) => Typed::Failed(e),
    }
}

/// The accepted rows of a block split by partition and turned into Arrow arrays (on the parsing
/// threads), each with its lineage columns, fingerprints and lines.
fn partition_parts(context: &TableContext, parsed: &mut BlockRows) -> Vec<Part> {
    let lineage = |lines: &[u64]| -> [ArrayRef; 2] {
        [Arc::new(repeated(&context.file, lines.len())), Arc::new(Int64Array::from_iter_values(lines.iter().map(|&l| l as i64)))]
    };
    // Most blocks lie in one partition (an export of one month or quarter): their columns
    // become Arrow arrays as they are, without a gather.
    if let Some(&period) = parsed.period.first().filter(|first| parsed.period.iter().all(|p| p == *first)) {
        let mut arrays: Vec<ArrayRef> = std::mem::take(&mut parsed.columns).into_iter().map(Values::into_arrow).collect();
        arrays.extend(lineage(&parsed.lines));
        return vec![Part {
            period,
            arrays,
            hashes: std::mem::take(&mut parsed.hashes),
            keys: std::mem::take(&mut parsed.keys),
            lines: std::mem::take(&mut parsed.lines),
        }];
    }
    let mut by_period: BTreeMap<Option<Period>, Vec<usize>> = BTreeMap::new();
    for (i, p) in parsed.period.iter().enumerate() {
        by_period.entry(*p).or_default().push(i);
    }
    by_period
        .into_iter()
        .map(|(period, rows)| {
            let mut arrays: Vec<ArrayRef> = parsed.columns.iter().map(|v| v.take_arrow(&rows)).collect();
            let lines: Vec<u64> = rows.iter().map(|&i| parsed.lines[i]).collect();
            arrays.extend(lineage(&lines));
            let keys = if parsed.keys.is_empty() { Vec::new() } else { rows.iter().map(|&i| parsed.keys[i]).collect() };
            Part { period, arrays, hashes: rows.iter().map(|&i| parsed.hashes[i]).collect(), keys, lines }
        })
        .collect()
}

/// `value` `n` times as a UTF-8 array (the `source_file` of a block's rows): the text copied by
/// doubling and the offsets counted, instead of one push and growth check per row.
fn repeated(value: &str, n: usize) -> StringArray {
    if n.checked_mul(value.len()).is_none_or(|total| i32::try_from(total).is_err()) {
        return StringArray::from_iter_values(std::iter::repeat_n(value, n));
    }
    let offsets = arrow::buffer::OffsetBuffer::from_lengths(std::iter::repeat_n(value.len(), n));
    // SAFETY: the text is `value` n times, so valid UTF-8, and the offsets are the multiples of
    // its length up to the whole: each lies at the start of one copy, a character boundary.
    unsafe { StringArray::new_unchecked(offsets, arrow::buffer::Buffer::from(value.repeat(n).into_bytes()), None) }
}

/// Texts remembered per month, quarter and date column while a block is parsed (a quarter's
/// file interleaves its three months).
const DATE_MEMO: usize = 4;

/// Most characters of a malformed record's text kept in quarantine.
const MALFORMED_TEXT_CHARS: usize = 500;

/// The quarantine entry of a record that cannot be read as the header's fields.
fn malformed_reject(context: &TableContext, line: u64, text: &str, fault: records::Fault, at_end: bool) -> Reject {
    let column = match fault {
        records::Fault::UnclosedQuote { field } => {
            context.located.iter().position(|at| at.is_some_and(|(i, _)| i + 1 == field)).map(|c| context.source.columns[c].name.clone())
        }
        records::Fault::FieldCount { .. } => None,
    };
    let shown: String = text.chars().take(MALFORMED_TEXT_CHARS).collect();
    Reject {
        source: context.source.name.clone(),
        file: context.file.to_string(),
        sheet: context.sheet.clone(),
        row: line,
        column,
        value: Some(shown),
        kind: RejectKind::Rejected,
        reason: fault.reason(&context.headers, at_end),
    }
}

/// A parsed cell value, before it joins its column.
enum Value<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
    Float(Option<f64>),
    Date(Option<i32>),
    Timestamp(Option<i64>),
}

impl Value<'_> {
    fn push_into(self, values: &mut Values) {
        match (values, self) {
            (Values::Text(v), Value::Text(x)) => v.push(x.as_deref()),
            (Values::Int(v), Value::Int(x)) => v.push(x),
            (Values::Float(v), Value::Float(x)) => v.push(x),
            (Values::Date(v), Value::Date(x)) => v.push(x),
            (Values::Timestamp(v), Value::Timestamp(x)) => v.push(x),
            _ => unreachable!("value type follows the column type"),
        }
    }

    /// The day a dated value's period is taken from, in local time (the grain's period of it).
    fn period_day(&self, utc_offset_minutes: i32) -> Option<i32> {
        match self {
            Value::Date(Some(d)) => Some(*d),
            Value::Timestamp(Some(us)) => Some((us / 1_000_000 + i64::from(utc_offset_minutes) * 60).div_euclid(86_400) as i32),
            _ => None,
        }
    }

    /// The local day of a dated value (for the date window), None for other values.
    fn local_day(&self, utc_offset_minutes: i32) -> Option<i32> {
        match self {
            Value::Date(Some(d)) => Some(*d),
            Value::Timestamp(Some(us)) => {
                Some((us.div_euclid(1_000_000) + i64::from(utc_offset_minutes) * 60).div_euclid(86_400).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
            }
            _ => None,
        }
    }
}

/// A cell parsed by its column's type, and a dated value checked against the date window.
fn checked_cell<'a>(context: &TableContext, column: &ColumnPlan, cell: Cell<'a>, scale: f64) -> Result<Value<'a>, parse::ParseError> {
    let plan = context.plan;
    // The date window guards the job's time axis: every dated value of a source that has
    // a period column; reference tables (the station master's dates) are not on it.
    let window = context.source.period.as_ref().map(|_| plan.date_window);
    parse_cell(column, cell, scale, plan.utc_offset_minutes).and_then(|v| match (window, v.local_day(plan.utc_offset_minutes)) {
        (Some(w), Some(day)) => parse::in_window(day, w.from, w.to).map(|_| v),
        _ => Ok(v),
    })
}

fn parse_cell<'a>(column: &ColumnPlan, cell: Cell<'a>, scale: f64, utc_offset: i32) -> Result<Value<'a>, parse::ParseError> {
    // A text cell's ends are looked at once: the trimmed text is also a text column's value.
    let trimmed = match cell {
        Cell::Text(s) => Some(crate::base::text::trim(s)),
        _ => None,
    };
    let blank = matches!(cell, Cell::Empty) || trimmed.is_some_and(str::is_empty);
    if blank {
        if column.not_null {
            return Err(parse::ParseError("缺少必填值 · value is missing".to_string()));
        }
        return Ok(match column.kind {
            ColumnType::Text => Value::Text(None),
            ColumnType::Integer => Value::Int(None),
            ColumnType::Number => Value::Float(None),
            ColumnType::Month | ColumnType::Quarter | ColumnType::Date => Value::Date(None),
            ColumnType::Timestamp => Value::Timestamp(None),
        });
    }
    let text: Cow<str> = match cell {
        Cell::Text(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.text()),
    };
    let fmt = column.format.as_deref();
    Ok(match (column.kind, cell) {
        (ColumnType::Text, _) => match trimmed {
            Some(trimmed) => Value::Text(Some(Cow::Borrowed(trimmed))),
            None => Value::Text(Some(Cow::Owned(text.trim().to_string()))),
        },
        (ColumnType::Integer, Cell::Number(v)) if v.fract() == 0.0 && v.abs() < 9.0e15 => Value::Int(Some(v as i64)),
        (ColumnType::Integer, _) => Value::Int(Some(parse::integer(&text)?)),
        (ColumnType::Number, Cell::Number(v)) => Value::Float(Some(parse::scaled(v, scale, &text)?)),
        (ColumnType::Number, _) => Value::Float(Some(parse::number(&text, scale)?)),
        (ColumnType::Month, Cell::ExcelDate(v)) => {
            let (y, m, _) = civil_from_days(parse::excel_serial(v, &text)?.0);
            Value::Date(Some(days_from_civil(y, m, 1)))
        }
        (ColumnType::Month, Cell::Number(v)) => Value::Date(Some(parse::month_from_number(v, &text)?)),
        (ColumnType::Month, _) => Value::Date(Some(parse::month(&text, fmt)?)),
        (ColumnType::Quarter, Cell::ExcelDate(v)) => Value::Date(Some(parse::quarter_of_days(parse::excel_serial(v, &text)?.0))),
        (ColumnType::Quarter, _) => Value::Date(Some(parse::quarter(&text)?)),
        (ColumnType::Date, Cell::ExcelDate(v)) => Value::Date(Some(parse::excel_serial(v, &text)?.0)),
        (ColumnType::Date, Cell::Number(v)) => Value::Date(Some(parse::date_from_number(v, &text)?)),
        (ColumnType::Date, _) => Value::Date(Some(parse::date(&text, fmt)?)),
        (ColumnType::Timestamp, Cell::ExcelDate(v)) => Value::Timestamp(Some(parse::timestamp_from_serial(v, &text, utc_offset)?)),
        (ColumnType::Timestamp, Cell::Number(v)) => Value::Timestamp(Some(parse::timestamp_from_number(v, &text, utc_offset)?)),
        (ColumnType::Timestamp, _) => Value::Timestamp(Some(parse::timestamp(&text, fmt, utc_offset)?)),
    })
}

/// A fingerprint of the parsed values of the key columns (so "0042" and "42" in an integer key
/// are one key, and a null differs from every value).
fn hash_value(h: &mut xxhash_rust::xxh3::Xxh3, value: &Value) {
    match value {
        Value::Text(Some(s)) => {
            h.update(&[1]);
            h.update(&(s.len() as u32).to_le_bytes());
            h.update(s.as_bytes());
        }
        Value::Int(Some(v)) => {
            h.update(&[2]);
            h.update(&v.to_le_bytes());
        }
        Value::Float(Some(v)) => {
            h.update(&[3]);
            h.update(&v.to_bits().to_le_bytes());
        }
        Value::Date(Some(v)) => {
            h.update(&[4]);
            h.update(&v.to_le_bytes());
        }
        Value::Timestamp(Some(v)) => {
            h.update(&[5]);
            h.update(&v.to_le_bytes());
        }
        _ => h.update(&[0]),
    }
}

/// A row fingerprint mixed with its table's salt (when the table fixes values from its file).
fn salted(hash: u128, salt: Option<u128>) -> u128 {
    match salt {
        None => hash,
        Some(salt) => {
            let mut bytes = [0u8; 32];
            bytes[..16].copy_from_slice(&hash.to_le_bytes());
            bytes[16..].copy_from_slice(&salt.to_le_bytes());
            xxhash_rust::xxh3::xxh3_128(&bytes)
        }
    }
}

/// A 128-bit fingerprint of a record's cells as written, hashed in one call (XXH3-128) over one
/// of two encodings, told apart by the hash's seed:
/// - cells that hold no comma (nearly every record): the cells joined by commas, an empty cell
///   as nothing (a sheet's empty text cell is not empty: it takes the other encoding); splitting at the commas gives the cells back, so different records never share
///   it. That is a plain CSV line as it stands, so `text` (given for such a line) is hashed
///   without a copy, and the same cells read from a quoted line or a sheet hash the same;
/// - otherwise: each cell tagged and length-prefixed (so "a,bc" and "ab,c" differ).
///
/// `bytes` is reused between records.
fn record_hash(cells: &[Cell], text: Option<&str>, bytes: &mut Vec<u8>) -> u128 {
    use xxhash_rust::xxh3::xxh3_128_with_seed;
    const JOINED: u64 = 1;
    const TAGGED: u64 = 2;
    if let Some(text) = text {
        return xxh3_128_with_seed(text.as_bytes(), JOINED);
    }
    bytes.clear();
    let joinable = cells.iter().all(|c| match c {
        Cell::Empty => true,
        Cell::Text(s) => !s.is_empty() && memchr::memchr(b',', s.as_bytes()).is_none(),
        Cell::Number(_) | Cell::ExcelDate(_) => false,
    });
    if joinable {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                bytes.push(b',');
            }
            if let Cell::Text(s) = cell {
                bytes.extend_from_slice(s.as_bytes());
            }
        }
        return xxh3_128_with_seed(bytes, JOINED);
    }
    for cell in cells {
        match cell {
            Cell::Empty => bytes.push(0),
            Cell::Text(s) => {
                bytes.push(1);
                bytes.extend_from_slice(&(s.len() as u32).to_le_bytes());
                bytes.extend_from_slice(s.as_bytes());
            }
            Cell::Number(v) => {
                bytes.push(2);
                bytes.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            Cell::ExcelDate(v) => {
                bytes.push(3);
                bytes.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
    }
    xxh3_128_with_seed(bytes, TAGGED)
}

/// Evaluates the source's SQL checks on a parsed block: failing reject checks move rows to
/// quarantine (first failing check named), warn checks are counted. Null results pass. Only the
/// columns the checks read are handed to polars.
fn apply_checks(context: &TableContext, parsed: &mut BlockRows) -> Result<(), IngestError> {
    let source = context.source;
    if context.checks.is_empty() || parsed.lines.is_empty() {
        return Ok(());
    }
    let height = parsed.lines.len();
    let mut used: Vec<usize> = context.checks.iter().flat_map(|c| c.uses.iter().copied()).collect();
    used.sort_unstable();
    used.dedup();
    let columns: Vec<Column> = used.iter().map(|&i| parsed.columns[i].to_series(&source.columns[i].name).into_column()).collect();
    let frame = if columns.is_empty() {
        DataFrame::empty_with_height(height)
    } else {
        DataFrame::new(height, columns).map_err(|error| IngestError::CheckFailed { source_name: source.name.clone(), rule: None, error })?
    };
    let mut keep = vec![true; height];
    let mut warn_index = 0;
    for check in context.checks {
        let result = frame.clone().lazy().select([check.expr.clone().alias("__check")]).collect().map_err(|error| IngestError::CheckFailed {
            source_name: source.name.clone(),
            rule: Some(check.rule.clone()),
            error,
        })?;
        let not_boolean = || IngestError::CheckNotBoolean { source_name: source.name.clone(), rule: check.rule.clone() };
        let column =
            result.column("__check").map_err(|error| IngestError::CheckFailed { source_name: source.name.clone(), rule: Some(check.rule.clone()), error })?;
        let passed = column.bool().map_err(|_| not_boolean())?;
        let failed: Vec<usize> = if passed.len() == 1 && height > 1 {
            if passed.get(0) == Some(false) { (0..height).collect() } else { Vec::new() }
        } else {
            passed.iter().take(height).enumerate().filter(|(_, v)| *v == Some(false)).map(|(i, _)| i).collect()
        };
        match check.severity {
            Severity::Warn => {
                parsed.warnings[warn_index] += failed.len() as u64;
                warn_index += 1;
            }
            Severity::Reject => {
                for i in failed {
                    if keep[i] {
                        keep[i] = false;
                        parsed.rejects.push(Reject {
                            source: source.name.clone(),
                            file: context.file.to_string(),
                            sheet: context.sheet.clone(),
                            row: parsed.lines[i],
                            column: None,
                            value: Some(row_summary(source, &parsed.columns, i, &check.uses)),
                            kind: RejectKind::Rejected,
                            reason: check.message.clone(),
                        });
                    }
                }
            }
        }
    }
    let removed = keep.iter().filter(|k| !**k).count() as u64;
    if removed > 0 {
        // In place: a block's columns are copied no further than from its first rejected row on.
        parsed.columns.iter_mut().for_each(|v| v.retain(&keep));
        values::retain_flagged(&mut parsed.lines, &keep);
        values::retain_flagged(&mut parsed.hashes, &keep);
        if !parsed.keys.is_empty() {
            values::retain_flagged(&mut parsed.keys, &keep);
        }
        values::retain_flagged(&mut parsed.period, &keep);
        parsed.counts.accepted -= removed;
        parsed.counts.rejected += removed;
    }
    Ok(())
}

/// "paid=1,050.00; billed=1,000.00": the values a failed check looked at.
fn row_summary(source: &SourcePlan, columns: &[Values], i: usize, used: &[usize]) -> String {
    used.iter()
        .map(|&c| {
            let shown = match &columns[c] {
                Values::Text(x) => x.get(i).unwrap_or_default().to_string(),
                Values::Int(x) => x[i].map(|v| v.to_string()).unwrap_or_default(),
                Values::Float(x) => x[i].map(|v| v.to_string()).unwrap_or_default(),
                Values::Date(x) => x[i]
                    .map(|d| {
                        let (y, m, dd) = civil_from_days(d);
                        format!("{y}-{m:02}-{dd:02}")
                    })
                    .unwrap_or_default(),
                Values::Timestamp(x) => x[i].map(|v| v.to_string()).unwrap_or_default(),
            };
            format!("{}={shown}", source.columns[c].name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod sample_tests {
    use super::*;

    #[test]
    fn a_repeated_value_is_that_value_on_every_row() {
        for (value, n) in [("data/line_loss/台区线损_2020Q2.csv", 3), ("", 4), ("x", 0), ("供电所", 1)] {
            let array = repeated(value, n);
            assert_eq!(array.len(), n);
            assert_eq!(array.null_count(), 0);
            assert!(array.iter().all(|v| v == Some(value)), "{value} × {n}");
            assert_eq!(array, StringArray::from_iter_values(std::iter::repeat_n(value, n)));
        }
    }

    #[test]
    fn a_sample_takes_the_first_the_last_and_blocks_spread_between() {
        assert_eq!(SamplePicks::new(4, 2).picks, vec![0, 1]);
        assert_eq!(SamplePicks::new(4, 4).picks, vec![0, 1, 2, 3]);
        assert_eq!(SamplePicks::new(4, 10).picks, vec![0, 3, 6, 9]);
        assert_eq!(SamplePicks::new(3, 100).picks, vec![0, 50, 99]);
        assert_eq!(SamplePicks::new(1, 100).picks, vec![0]);
        assert_eq!(SamplePicks::new(4, 0).picks, vec![0]);
    }
}

/// Property tests of record fingerprints: two records get one fingerprint exactly when their
/// cells are the same, whichever encoding each takes, and a plain line hashed as it stands gets
/// the fingerprint of its cells. `PROPTEST_CASES` overrides the number of cases.
#[cfg(test)]
mod fingerprint_properties {
    use proptest::prelude::*;

    use super::*;

    use crate::base::proptest_config as config;

    /// Cells as CSV and sheets give them: few distinct texts (so equal records are common),
    /// texts with commas, empty texts, numbers and dates.
    fn cell() -> impl Strategy<Value = (u8, String, f64)> {
        (
            0u8..5,
            prop_oneof![
                Just(String::new()),
                Just("a".to_string()),
                Just("a,".to_string()),
                Just(",a".to_string()),
                Just("b".to_string()),
                Just("供电所".to_string()),
                "[ab,]{1,3}"
            ],
            prop_oneof![Just(1.0), Just(2.5)],
        )
    }

    fn make(spec: &[(u8, String, f64)]) -> Vec<Cell<'_>> {
        spec.iter()
            .map(|(kind, text, v)| match kind {
                0 => Cell::Empty,
                1 | 2 => Cell::Text(text),
                3 => Cell::Number(*v),
                _ => Cell::ExcelDate(*v),
            })
            .collect()
    }

    proptest! {
        #![proptest_config(config(1024))]

        #[test]
        fn one_fingerprint_exactly_for_the_same_cells(a in proptest::collection::vec(cell(), 1..4), b in proptest::collection::vec(cell(), 1..4)) {
            let (a, b) = (make(&a), make(&b));
            let mut bytes = Vec::new();
            let (ha, hb) = (record_hash(&a, None, &mut bytes), record_hash(&b, None, &mut bytes));
            prop_assert_eq!(ha == hb, a == b, "{:?} {:?}", a, b);
        }

        #[test]
        fn a_plain_line_hashes_as_its_cells(fields in proptest::collection::vec("[ab 供]{0,3}", 1..5)) {
            let line = fields.join(",");
            let cells: Vec<Cell> = fields.iter().map(|f| if f.is_empty() { Cell::Empty } else { Cell::Text(f) }).collect();
            let mut bytes = Vec::new();
            prop_assert_eq!(record_hash(&cells, Some(&line), &mut bytes), record_hash(&cells, None, &mut bytes));
        }
    }
}

/// Property tests of `typed_cell`: a row parsed through it gives exactly what the general path
/// (`checked_cell`, then `push_into`, `hash_value` and the period of `Value::period_day`) gives for the same cells:
/// the same columns, period, key fingerprint, and the same error for the same column.
#[cfg(test)]
mod typed_cell_properties {
    use proptest::prelude::*;

    use super::*;

    use crate::base::proptest_config as config;

    const PIPELINE: &str = r#"
[pipeline]
name = "typed"
title = "typed"
period = "quarter"
utc_offset = "+08:00"
stations = "stations"

[output]
dir = "out"

[sources.stations]
title = "s"
path = "data/s.csv"
columns.station_code = { header = "code", not_null = true }
columns.station_name = { header = "name", not_null = true }

[sources.rows]
title = "r"
path = "data/r.csv"
station = "code"
period = "m"
duplicates = { key = ["code", "n", "m", "d", "q", "amount", "ts"] }
columns.code = { header = "code", not_null = true }
columns.name = { header = "name" }
columns.n = { header = "n", type = "integer" }
columns.amount = { header = "amount(万元)", type = "number", scale = 10000 }
columns.rate = { header = "rate", type = "number", not_null = true }
columns.m = { header = "m", type = "month", not_null = true }
columns.q = { header = "q", type = "quarter" }
columns.d = { header = "d", type = "date", format = "yyyy/M/d" }
columns.ts = { header = "ts", type = "timestamp" }
"#;

    fn plan() -> Plan {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, PIPELINE).unwrap();
        crate::spec::compile::compile_file(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Texts every column type meets in exports: values, near-values, blanks, full-width digits,
    /// thousands separators, percentages, dates in several forms and out of the window.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just(" ".to_string()),
            Just("\u{3000}".to_string()),
            Just("42".to_string()),
            Just(" 0042 ".to_string()),
            Just("12.0".to_string()),
            Just("1,234.50".to_string()),
            Just("1,23".to_string()),
            Just("98.5%".to_string()),
            Just("-7.25".to_string()),
            Just("１２３".to_string()),
            Just("1e308".to_string()),
            Just("nan".to_string()),
            Just("2020年09月".to_string()),
            Just("202009".to_string()),
            Just("2020-09".to_string()),
            Just("2020年第3季度".to_string()),
            Just("2020Q3".to_string()),
            Just("2020/9/13".to_string()),
            Just("2020-09-13".to_string()),
            Just("1899/1/1".to_string()),
            Just("2020-13".to_string()),
            Just("43862".to_string()),
            Just("供电所".to_string()),
            "[0-9]{1,6}",
            "[0-9 .,%-]{1,8}",
            "20[12][0-9][-/年][01]?[0-9]月?",
            "\\PC{0,6}",
        ]
    }

    fn cell(text: &str) -> Cell<'_> {
        if text.is_empty() { Cell::Empty } else { Cell::Text(text) }
    }

    /// Texts a column of each type reads as a value (columns in the order of the headers).
    fn valid(column: usize) -> BoxedStrategy<String> {
        match column {
            0 | 1 => prop_oneof![Just("X01".to_string()), Just(" 供电所 ".to_string()), "[a-z0-9]{1,4}"].boxed(),
            2 => prop_oneof![Just("7".to_string()), Just("1,200".to_string()), Just("12.0".to_string()), "-?[0-9]{1,5}"].boxed(),
            3 | 4 => prop_oneof![Just("98.5%".to_string()), Just("1,234.50".to_string()), Just("0.1".to_string()), "-?[0-9]{1,6}\\.?[0-9]{0,3}"].boxed(),
            5 => prop_oneof![Just("2020年09月".to_string()), Just("202001".to_string()), Just("2021-03".to_string()), Just("2020-09-13".to_string())].boxed(),
            6 => prop_oneof![Just("2020年第3季度".to_string()), Just("2020Q1".to_string()), Just(String::new())].boxed(),
            7 => prop_oneof![Just("2020/9/13".to_string()), Just("2021/12/31".to_string()), Just(String::new())].boxed(),
            _ => prop_oneof![
                Just("2020-09-13 14:22:05".to_string()),
                Just("2020-12-31 23:59:59".to_string()),
                Just("2021-01-01T00:30:00+08:00".to_string()),
                Just("2020-12-31T16:30:00.5Z".to_string()),
                Just("2020/9/13 8:05".to_string()),
                Just("1969-12-31 23:59:59.5Z".to_string()),
                Just(String::new())
            ]
            .boxed(),
        }
    }

    /// A row: each cell a value of its column three times in four, any text otherwise.
    fn row() -> impl Strategy<Value = Vec<String>> {
        (0..9usize).map(|i| prop_oneof![3 => valid(i), 1 => text()]).collect::<Vec<_>>()
    }

    /// The general path, as every cell took it before `typed_cell`.
    fn general(context: &TableContext, cells: &[Cell], columns: &mut [Values]) -> Result<(Option<Period>, Option<u128>), (String, String, String)> {
        let (source, plan) = (context.source, context.plan);
        let mut period = None;
        let mut key = (!context.key_columns.is_empty()).then(xxhash_rust::xxh3::Xxh3::new);
        for (k, (column, at)) in source.columns.iter().zip(&context.located).enumerate() {
            let cell = at.and_then(|(i, _)| cells.get(i).copied()).unwrap_or(Cell::Empty);
            let scale = at.map(|(_, s)| s).unwrap_or(1.0);
            let value = checked_cell(context, column, cell, scale).map_err(|reason| {
                let header = at.map(|(i, _)| context.headers[i].clone()).unwrap_or_else(|| column.headers[0].0.clone());
                (column.name.clone(), cell.text(), format!("{header}: {reason}"))
            })?;
            if context.period_index == Some(k) {
                period = value.period_day(plan.utc_offset_minutes).map(|d| Period::of_day(plan.grain, d));
            }
            if let Some(h) = key.as_mut().filter(|_| context.key_columns.contains(&k)) {
                hash_value(h, &value);
            }
            value.push_into(&mut columns[k]);
        }
        Ok((period, key.map(|h| h.digest128())))
    }

    fn columns(source: &SourcePlan) -> Vec<Values> {
        source.columns.iter().map(|c| Values::for_type(c.kind)).collect()
    }

    fn arrays(columns: Vec<Values>) -> Vec<ArrayRef> {
        columns.into_iter().map(Values::into_arrow).collect()
    }

    /// Rows through both paths, the period taken from the month column and then from the
    /// timestamp column.
    #[test]
    fn typed_cells_give_what_the_general_path_gives() {
        let plan = plan();
        let source = plan.sources.iter().find(|s| s.name == "rows").unwrap();
        let headers: Vec<String> = ["code", "name", "n", "amount(万元)", "rate", "m", "q", "d", "ts"].map(str::to_string).to_vec();
        let located = locate_columns(source, &headers, None, "r.csv").unwrap();
        assert!(located.iter().all(Option::is_some));
        let position = |name: &str| source.columns.iter().position(|c| c.name == name).unwrap();
        for period_column in ["m", "ts"] {
            let context = TableContext {
                plan: &plan,
                source,
                checks: &[],
                file: Arc::from("r.csv"),
                table_index: 0,
                sheet: None,
                headers: headers.clone(),
                located: located.clone(),
                drops: Vec::new(),
                period_index: Some(position(period_column)),
                only: None,
                derived: vec![None; source.columns.len()],
                salt: None,
                key_columns: ["code", "n", "m", "d", "q", "amount", "ts"].map(position).to_vec(),
            };
            let (accepted_all, failed_all) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
            let mut runner = proptest::test_runner::TestRunner::new(config(256));
            let result = runner.run(&prop::collection::vec(row(), 1..12), |rows| {
                let (mut typed, mut expected) = (columns(source), columns(source));
                let mut memo = RowMemo::new(source);
                let mut accepted = 0;
                for row in &rows {
                    let cells: Vec<Cell> = row.iter().map(|t| cell(t)).collect();
                    let got = parse_row(&context, &cells, &mut memo, &mut typed).map_err(|(c, v, r)| (c.to_string(), v, r));
                    let want = general(&context, &cells, &mut expected);
                    prop_assert_eq!(&got, &want, "row {:?}", row);
                    if got.is_err() {
                        typed.iter_mut().for_each(|c| c.truncate(accepted));
                        expected.iter_mut().for_each(|c| c.truncate(accepted));
                        failed_all.set(failed_all.get() + 1);
                    } else {
                        accepted += 1;
                    }
                }
                prop_assert_eq!(arrays(typed), arrays(expected));
                accepted_all.set(accepted_all.get() + accepted);
                Ok(())
            });
            if let Err(e) = result {
                panic!("period from {period_column}: {e}");
            }
            // Both outcomes are compared many times, not only errors.
            let (accepted, failed) = (accepted_all.get(), failed_all.get());
            assert!(accepted > 50 && failed > 100, "period from {period_column}: {accepted} rows accepted, {failed} failed");
        }
    }
}

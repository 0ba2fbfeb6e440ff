//! Ingest: exports → typed, checked, de-duplicated rows per source, with every row not accepted
//! accounted for in quarantine. Files of a source are read in parallel; the merge that decides
//! duplicates runs in file order, so reruns keep the same copy of a duplicated row.
//!
//! Conservation, checked for every source: rows read = accepted + rejected + dropped
//! + duplicates + outside the selected period.

pub mod parse;
pub mod read;
pub mod values;

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::Path;

use polars::prelude::{Column, DataFrame, IntoColumn, IntoLazy};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::period::{Grain, Period};
use crate::plan::{ColumnPlan, ColumnType, Plan, Severity, SourcePlan};
use read::{Cell, Record, Table};
use values::Values;

/// Why a row is in quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// A value did not parse or a reject check failed.
    Rejected,
    /// A drop rule matched (total lines).
    Dropped,
    /// An exact copy of an earlier row of the same source.
    Duplicate,
}

impl RejectKind {
    pub fn name(self) -> &'static str {
        match self {
            RejectKind::Rejected => "rejected",
            RejectKind::Dropped => "dropped",
            RejectKind::Duplicate => "duplicate",
        }
    }
}

/// One quarantined row.
#[derive(Debug, Clone)]
pub struct Reject {
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
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows_read: u64,
    pub blank_lines: u64,
}

/// Row accounting of one source.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SourceCounts {
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub dropped: u64,
    pub duplicates: u64,
    pub other_period: u64,
    pub blank_lines: u64,
}

impl SourceCounts {
    /// Rows read = accepted + rejected + dropped + duplicates + outside the selected period.
    pub fn conserved(&self) -> bool {
        self.rows_read == self.accepted + self.rejected + self.dropped + self.duplicates + self.other_period
    }

    /// Share of read rows rejected (parse failures and failed reject checks).
    pub fn reject_share(&self) -> f64 {
        if self.rows_read == 0 { 0.0 } else { self.rejected as f64 / self.rows_read as f64 }
    }
}

/// A source after ingest: its accepted rows (typed), their periods, provenance and accounting.
#[derive(Debug)]
pub struct IngestedSource {
    pub name: String,
    pub title: String,
    pub files: Vec<FileReport>,
    pub counts: SourceCounts,
    /// Warn-severity checks and how many rows failed each.
    pub warnings: Vec<(String, u64)>,
    pub columns: Vec<(String, Values)>,
    pub source_file: Vec<String>,
    pub source_row: Vec<i64>,
    /// Period of each accepted row (None for reference tables).
    pub period: Vec<Option<Period>>,
    pub rejects: Vec<Reject>,
}

/// A file parsed and checked, before the cross-file duplicate merge.
struct ParsedFile {
    report: FileReport,
    columns: Vec<Values>,
    lines: Vec<u64>,
    sheets: Vec<Option<String>>,
    hashes: Vec<u128>,
    period: Vec<Option<Period>>,
    rejects: Vec<Reject>,
    counts: SourceCounts,
    warnings: Vec<u64>,
}

/// Ingests every file of a source. `only` restricts to one period (quarterly increments).
pub fn ingest_source(plan: &Plan, source: &SourcePlan, files: &[std::path::PathBuf], only: Option<Period>) -> Result<IngestedSource, String> {
    // File names in quarantine and the manifest are shown relative to the working folder.
    let base = Path::new(".");
    let parsed: Vec<Result<ParsedFile, String>> = files.par_iter().map(|f| ingest_file(plan, source, f, base, only)).collect();
    let mut out = IngestedSource {
        name: source.name.clone(),
        title: source.title.clone(),
        files: Vec::new(),
        counts: SourceCounts::default(),
        warnings: source.checks.iter().filter(|c| c.severity == Severity::Warn).map(|c| (c.message.clone(), 0)).collect(),
        columns: source.columns.iter().map(|c| (c.name.clone(), Values::for_type(c.kind))).collect(),
        source_file: Vec::new(),
        source_row: Vec::new(),
        period: Vec::new(),
        rejects: Vec::new(),
    };
    // Merge in file order: the first copy of a duplicated row is kept.
    let mut seen: HashMap<u128, (String, u64)> = HashMap::new();
    for file in parsed {
        let file = file?;
        let mut keep = Vec::with_capacity(file.hashes.len());
        for (i, hash) in file.hashes.iter().enumerate() {
            match seen.get(hash) {
                Some((first_file, first_line)) => {
                    keep.push(false);
                    out.rejects.push(Reject {
                        source: source.name.clone(),
                        file: file.report.path.clone(),
                        sheet: file.sheets[i].clone(),
                        row: file.lines[i],
                        column: None,
                        value: None,
                        kind: RejectKind::Duplicate,
                        reason: format!("exact duplicate of {first_file} line {first_line}"),
                    });
                }
                None => {
                    seen.insert(*hash, (file.report.path.clone(), file.lines[i]));
                    keep.push(true);
                }
            }
        }
        let duplicates = keep.iter().filter(|k| !**k).count() as u64;
        for ((_, values), parsed) in out.columns.iter_mut().zip(file.columns) {
            values.extend(parsed.filter(&keep));
        }
        for (i, k) in keep.iter().enumerate() {
            if *k {
                out.source_file.push(file.report.path.clone());
                out.source_row.push(file.lines[i] as i64);
                out.period.push(file.period[i]);
            }
        }
        let c = &mut out.counts;
        c.rows_read += file.counts.rows_read;
        c.accepted += file.counts.accepted - duplicates;
        c.rejected += file.counts.rejected;
        c.dropped += file.counts.dropped;
        c.duplicates += duplicates;
        c.other_period += file.counts.other_period;
        c.blank_lines += file.counts.blank_lines;
        for (w, n) in out.warnings.iter_mut().zip(&file.warnings) {
            w.1 += n;
        }
        out.rejects.extend(file.rejects);
        out.files.push(file.report);
    }
    if !out.counts.conserved() {
        return Err(format!("source '{}': row accounting does not add up: {:?}", source.name, out.counts));
    }
    Ok(out)
}

/// Where each canonical column comes from in one table: cell index and scale, or absent.
fn locate_columns(source: &SourcePlan, table: &Table, file: &str) -> Result<Vec<Option<(usize, f64)>>, String> {
    source
        .columns
        .iter()
        .map(|c| {
            let found = c.headers.iter().find_map(|(h, scale)| table.headers.iter().position(|x| x == h).map(|i| (i, *scale)));
            match found {
                None if c.required => Err(format!(
                    "{file}{}: column '{}' (header '{}') is missing; headers there: {}",
                    table.sheet.as_ref().map(|s| format!(" sheet '{s}'")).unwrap_or_default(),
                    c.name,
                    c.headers[0].0,
                    table.headers.join(", ")
                )),
                found => Ok(found),
            }
        })
        .collect()
}

fn ingest_file(plan: &Plan, source: &SourcePlan, path: &Path, base: &Path, only: Option<Period>) -> Result<ParsedFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let shown = path.strip_prefix(base).unwrap_or(path).to_string_lossy().replace('\\', "/");
    let report = FileReport { path: shown.clone(), sha256: sha256_hex(&bytes), bytes: bytes.len() as u64, rows_read: 0, blank_lines: 0 };
    drop(bytes);
    let tables = read::read_tables(source, path)?;
    let mut parsed = ParsedFile {
        report,
        columns: source.columns.iter().map(|c| Values::for_type(c.kind)).collect(),
        lines: Vec::new(),
        sheets: Vec::new(),
        hashes: Vec::new(),
        period: Vec::new(),
        rejects: Vec::new(),
        counts: SourceCounts::default(),
        warnings: vec![0; source.checks.iter().filter(|c| c.severity == Severity::Warn).count()],
    };
    let period_index = source.period.as_ref().and_then(|p| source.columns.iter().position(|c| &c.name == p));
    for table in &tables {
        let located = locate_columns(source, table, &shown)?;
        let drops: Vec<(usize, &Vec<String>, &str)> = source
            .drop_rows
            .iter()
            .filter_map(|d| table.headers.iter().position(|h| h == &d.header).map(|i| (i, &d.starts_with, d.header.as_str())))
            .collect();
        parsed.counts.blank_lines += table.blank_lines;
        'records: for record in &table.records {
            parsed.counts.rows_read += 1;
            let reject = |column: Option<&str>, value: Option<String>, kind: RejectKind, reason: String| Reject {
                source: source.name.clone(),
                file: shown.clone(),
                sheet: record.sheet.clone(),
                row: record.line,
                column: column.map(str::to_string),
                value,
                kind,
                reason,
            };
            for (i, prefixes, header) in &drops {
                let text = record.cells.get(*i).map(Cell::text).unwrap_or_default();
                if let Some(p) = prefixes.iter().find(|p| text.trim().starts_with(p.as_str())) {
                    parsed.rejects.push(reject(Some(header), Some(text.clone()), RejectKind::Dropped, format!("drop rule: {header} starts with '{p}'")));
                    parsed.counts.dropped += 1;
                    continue 'records;
                }
            }
            let mut row = Vec::with_capacity(source.columns.len());
            for (column, at) in source.columns.iter().zip(&located) {
                let cell = at.and_then(|(i, _)| record.cells.get(i)).unwrap_or(&Cell::Empty);
                let scale = at.map(|(_, s)| s).unwrap_or(1.0);
                match parse_cell(column, cell, scale, plan.utc_offset_minutes) {
                    Ok(value) => row.push(value),
                    Err(reason) => {
                        let header = at.map(|(i, _)| table.headers[i].clone()).unwrap_or_else(|| column.headers[0].0.clone());
                        parsed.rejects.push(reject(Some(&column.name), Some(cell.text()), RejectKind::Rejected, format!("{header}: {reason}")));
                        parsed.counts.rejected += 1;
                        continue 'records;
                    }
                }
            }
            let period = period_index.and_then(|i| row[i].period(plan.grain, plan.utc_offset_minutes));
            if let (Some(wanted), Some(i)) = (only, period_index) {
                if period != Some(wanted) {
                    let _ = i;
                    parsed.counts.other_period += 1;
                    continue;
                }
            }
            for (values, value) in parsed.columns.iter_mut().zip(row) {
                value.push_into(values);
            }
            parsed.lines.push(record.line);
            parsed.sheets.push(record.sheet.clone());
            parsed.hashes.push(record_hash(record));
            parsed.period.push(period);
            parsed.counts.accepted += 1;
        }
    }
    parsed.report.rows_read = parsed.counts.rows_read;
    parsed.report.blank_lines = parsed.counts.blank_lines;
    apply_checks(source, &mut parsed)?;
    Ok(parsed)
}

/// A parsed cell value, before it joins its column.
enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
    Date(Option<i32>),
    Timestamp(Option<i64>),
}

impl Value {
    fn push_into(self, values: &mut Values) {
        match (values, self) {
            (Values::Text(v), Value::Text(x)) => v.push(x),
            (Values::Int(v), Value::Int(x)) => v.push(x),
            (Values::Float(v), Value::Float(x)) => v.push(x),
            (Values::Date(v), Value::Date(x)) => v.push(x),
            (Values::Timestamp(v), Value::Timestamp(x)) => v.push(x),
            _ => unreachable!("value type follows the column type"),
        }
    }

    /// The period of a dated value, in local time.
    fn period(&self, grain: Grain, utc_offset_minutes: i32) -> Option<Period> {
        let days = match self {
            Value::Date(Some(d)) => *d,
            Value::Timestamp(Some(us)) => (us / 1_000_000 + i64::from(utc_offset_minutes) * 60).div_euclid(86_400) as i32,
            _ => return None,
        };
        Some(Period::of_day(grain, days))
    }
}

fn parse_cell(column: &ColumnPlan, cell: &Cell, scale: f64, utc_offset: i32) -> Result<Value, String> {
    let blank = match cell {
        Cell::Empty => true,
        Cell::Text(s) => s.trim().is_empty(),
        _ => false,
    };
    if blank {
        if column.not_null {
            return Err("value is missing".to_string());
        }
        return Ok(match column.kind {
            ColumnType::Text => Value::Text(None),
            ColumnType::Integer => Value::Int(None),
            ColumnType::Number => Value::Float(None),
            ColumnType::Month | ColumnType::Quarter | ColumnType::Date => Value::Date(None),
            ColumnType::Timestamp => Value::Timestamp(None),
        });
    }
    let text = cell.text();
    let fmt = column.format.as_deref();
    let e = |e: parse::ParseError| e.0;
    Ok(match (column.kind, cell) {
        (ColumnType::Text, _) => Value::Text(Some(text.trim().to_string())),
        (ColumnType::Integer, Cell::Number(v)) if v.fract() == 0.0 => Value::Int(Some(*v as i64)),
        (ColumnType::Integer, _) => Value::Int(Some(parse::integer(&text).map_err(e)?)),
        (ColumnType::Number, Cell::Number(v)) => Value::Float(Some(v * scale)),
        (ColumnType::Number, _) => Value::Float(Some(parse::number(&text, scale).map_err(e)?)),
        (ColumnType::Month, Cell::ExcelDate(v)) => {
            let (y, m, _) = parse::civil_from_days(parse::excel_serial_to_days(*v));
            Value::Date(Some(parse::days_from_civil(y, m, 1)))
        }
        (ColumnType::Month, _) => Value::Date(Some(parse::month(&text, fmt).map_err(e)?)),
        (ColumnType::Quarter, _) => Value::Date(Some(parse::quarter(&text).map_err(e)?)),
        (ColumnType::Date, Cell::ExcelDate(v)) => Value::Date(Some(parse::excel_serial_to_days(*v))),
        (ColumnType::Date, _) => Value::Date(Some(parse::date(&text, fmt).map_err(e)?)),
        (ColumnType::Timestamp, Cell::ExcelDate(v)) => {
            let local_seconds = ((v - 25_569.0) * 86_400.0).round() as i64;
            Value::Timestamp(Some((local_seconds - i64::from(utc_offset) * 60) * 1_000_000))
        }
        (ColumnType::Timestamp, _) => Value::Timestamp(Some(parse::timestamp(&text, fmt, utc_offset).map_err(e)?)),
    })
}

/// Lower-case hex sha256 of some bytes (input fingerprints in the manifest).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A 128-bit fingerprint of a record's cells as written (two keyed SipHashes).
fn record_hash(record: &Record) -> u128 {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0x5EEDu32.hash(&mut b);
    for cell in &record.cells {
        let text = cell.text();
        text.hash(&mut a);
        text.hash(&mut b);
    }
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// Evaluates the source's SQL checks on a parsed file: failing reject checks move rows to
/// quarantine (first failing check named), warn checks are counted. Null results pass.
fn apply_checks(source: &SourcePlan, parsed: &mut ParsedFile) -> Result<(), String> {
    if source.checks.is_empty() || parsed.lines.is_empty() {
        return Ok(());
    }
    let height = parsed.lines.len();
    let columns: Vec<Column> = source.columns.iter().zip(&parsed.columns).map(|(c, v)| v.to_series(&c.name).into_column()).collect();
    let frame = DataFrame::new(height, columns).map_err(|e| format!("source '{}': {e}", source.name))?;
    let mut keep = vec![true; height];
    let mut warn_index = 0;
    for check in &source.checks {
        let expr = polars::sql::sql_expr(&check.rule).map_err(|e| format!("check '{}': {e}", check.rule))?;
        let result = frame
            .clone()
            .lazy()
            .select([expr.alias("__check")])
            .collect()
            .map_err(|e| format!("source '{}', check '{}': {e}", source.name, check.rule))?;
        let column = result.column("__check").map_err(|e| e.to_string())?;
        let passed = column.bool().map_err(|_| format!("source '{}': check '{}' does not give true/false", source.name, check.rule))?;
        let failed: Vec<usize> = if passed.len() == 1 && height > 1 {
            if passed.get(0) == Some(false) { (0..height).collect() } else { Vec::new() }
        } else {
            (0..height).filter(|i| passed.get(*i) == Some(false)).collect()
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
                            file: parsed.report.path.clone(),
                            sheet: parsed.sheets[i].clone(),
                            row: parsed.lines[i],
                            column: None,
                            value: Some(row_summary(source, &parsed.columns, i, &check.rule)),
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
        parsed.columns = parsed.columns.iter().map(|v| v.filter(&keep)).collect();
        let pick = |v: &[u64]| v.iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| *x).collect::<Vec<_>>();
        parsed.lines = pick(&parsed.lines);
        parsed.sheets = parsed.sheets.iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| x.clone()).collect();
        parsed.hashes = parsed.hashes.iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| *x).collect();
        parsed.period = parsed.period.iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| *x).collect();
        parsed.counts.accepted -= removed;
        parsed.counts.rejected += removed;
    }
    Ok(())
}

/// "paid=1,050.00; billed=1,000.00": the values a failed check looked at.
fn row_summary(source: &SourcePlan, columns: &[Values], i: usize, rule: &str) -> String {
    let used: Vec<String> = polars::sql::sql_expr(rule).map(|e| e.meta().root_names().iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    source
        .columns
        .iter()
        .zip(columns)
        .filter(|(c, _)| used.contains(&c.name))
        .map(|(c, v)| {
            let shown = match v {
                Values::Text(x) => x[i].clone().unwrap_or_default(),
                Values::Int(x) => x[i].map(|v| v.to_string()).unwrap_or_default(),
                Values::Float(x) => x[i].map(|v| v.to_string()).unwrap_or_default(),
                Values::Date(x) => x[i].map(|d| {
                    let (y, m, dd) = parse::civil_from_days(d);
                    format!("{y}-{m:02}-{dd:02}")
                }).unwrap_or_default(),
                Values::Timestamp(x) => x[i].map(|v| v.to_string()).unwrap_or_default(),
            };
            format!("{}={shown}", c.name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Accepted rows of a source split by period, in period order.
pub fn by_period(source: &IngestedSource) -> BTreeMap<Option<Period>, Vec<bool>> {
    let mut masks: BTreeMap<Option<Period>, Vec<bool>> = BTreeMap::new();
    for (i, p) in source.period.iter().enumerate() {
        masks.entry(*p).or_insert_with(|| vec![false; source.period.len()])[i] = true;
    }
    masks
}
